from fastapi_viewsets import AnonRateThrottle, UserRateThrottle


class AnonymousRate(AnonRateThrottle):
    rate = "30/minute"  # per client address


class SignedInRate(UserRateThrottle):
    rate = "120/minute"  # per author


THROTTLES = [AnonymousRate, SignedInRate]
