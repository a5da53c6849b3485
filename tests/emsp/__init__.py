"""A stand-alone eMSP for end-to-end tests: ``python -m tests.emsp --port N``."""
