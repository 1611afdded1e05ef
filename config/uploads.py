"""Reading an uploaded CSV's bytes as text, as UK offices save them: UTF-8 (with
or without Excel's byte-order mark), Excel's "Unicode text" (UTF-16) or
Windows-1252 ("£" is the byte 0xA3). A PDF or an .xlsx is named as such."""


class UnreadableUpload(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def decode_csv_upload(data: bytes, *, pdf: str, xlsx: str, unreadable: str) -> str:
    """The file's text; UnreadableUpload with the caller's message (`pdf`, `xlsx`
    or `unreadable`) for what is not a CSV file we can read."""
    data = bytes(data)
    if data.startswith(b"%PDF"):
        raise UnreadableUpload(pdf)
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableUpload(xlsx)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise UnreadableUpload(unreadable) from None
    if "\x00" in text:
        raise UnreadableUpload(unreadable)
    return text
