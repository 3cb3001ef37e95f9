"""Helpers the tests share, each in the module named for what it does."""
