from fastapi_viewsets.pagination import CursorPagination, PageNumberPagination


class PostPagination(PageNumberPagination):
    page_size = 10
    max_page_size = 50


class CommentPagination(CursorPagination):
    page_size = 20
    ordering = "created_at"  # oldest first, as a conversation reads
