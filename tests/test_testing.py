"""The helpers tests and benchmarks share."""

from pathlib import Path

from stormproof.testing import free_base_port


def test_cluster_ports_lie_below_the_kernels_ephemeral_range() -> None:
    # A killed region is restored on its old ports: had they been ephemeral,
    # an outgoing connection could take one while the region was down.
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(20):
        base = free_base_port(3)
        assert base + 200 + 2 < low
        base = free_base_port(3, wan=True)  # and the WAN proxy's ports
        assert base + 400 + 22 < low
