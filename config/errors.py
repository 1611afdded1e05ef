class ApplicationError(Exception):
    """A problem a person should read: bad input or a request the rules forbid.

    Views show ``message`` to the user (on ``field`` where there is one); anything
    else raised is a bug and a 500."""

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
