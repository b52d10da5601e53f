"""The one place fastloss's version is written."""

__version__ = "0.1.0"
