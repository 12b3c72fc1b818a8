"""An example API built with fastapi_viewsets: users, organisations, projects and tasks.

::

    python -m example_project            # http://127.0.0.1:8000/docs, data in ./example.sqlite3

========================  ===========================================================
module                    what it shows
========================  ===========================================================
``models``                Tortoise models with forward and reverse relations
``schemas``               nested read schemas (eager loading), write schemas
``auth``                  HMAC-signed bearer tokens, PBKDF2 passwords, the user
                          dependency that calls ``BaseStateManager.set_user``
``views``                 viewsets: per-action permissions, an owner permission, row
                          scoping, ``perform_create``, a custom ``state_class``,
                          ``@action`` routes with query parameters and background tasks,
                          a throttle, ETags and idempotency keys
``app``                   ``create_app()``: Tortoise in the lifespan, request-id logging
``seed``                  demo users ``alice``, ``bob``, ``carol`` (password
                          ``<name>-password``; carol is an admin)
========================  ===========================================================
"""
