"""Wallet and payment domain shared by every Lambda function (shipped as the SharedLayer)."""

__version__ = "0.1.0"
