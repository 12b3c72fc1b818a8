"""A small blog API: authors, their posts, and comments on the posts."""
