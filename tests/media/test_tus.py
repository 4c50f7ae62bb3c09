"""The tus headers are parsed strictly: any text is a value or a 400, never a crash."""

from __future__ import annotations

import base64

from hypothesis import example, given
from hypothesis import strategies as st

from stormproof.errors import BadRequest
from stormproof.media.tus import parse_checksum, parse_metadata, parse_offset

keys = st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True)


@given(st.dictionaries(keys, st.text(), max_size=8))
def test_metadata_as_tus_clients_encode_it_is_read_back(values: dict[str, str]) -> None:
    # tuspy's encoding: "key base64(utf-8)" joined by commas
    header = ",".join(
        f"{k} {base64.b64encode(v.encode('utf-8', 'surrogatepass')).decode()}"
        for k, v in values.items()
    )
    try:
        assert parse_metadata(header) == values
    except BadRequest as refused:  # a lone surrogate is not UTF-8 text
        assert refused.code == "invalid_metadata"
        assert any(not _utf8(v) for v in values.values())


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@example("filename \x80")  # not ASCII: was a 500 (base64 refuses it with a ValueError)
@example("sha1 \x80")
@given(st.text())
def test_any_header_text_is_a_value_or_a_400(text: str) -> None:
    for parse in (parse_metadata, parse_checksum, lambda t: parse_offset(t, "Upload-Offset")):
        try:
            parse(text)
        except BadRequest as refused:
            assert refused.code.startswith(("invalid_", "checksum_"))
