"""Cloudlet: a self-hosted data cloud for connected devices and scientific data."""

__version__ = "0.1.0"
