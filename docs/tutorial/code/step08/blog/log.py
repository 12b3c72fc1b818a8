import logging

from fastapi_viewsets import RequestIdLogFilter

FORMAT = "%(asctime)s %(levelname)s [%(request_id)s user=%(user_id)s] %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Log the blog's messages to stderr, each with its request id and user id."""
    logger = logging.getLogger("blog")
    if logger.handlers:  # already done: create_app() may run more than once
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdLogFilter())  # adds request_id and user_id to each record
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
