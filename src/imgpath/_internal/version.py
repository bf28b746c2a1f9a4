"""imgpath's version: stamped on every evaluation's JSON and part of every cache key.

``pyproject.toml`` reads it from here (hatch's dynamic version), so there is one place to bump.
"""

VERSION = "0.1.0"
