"""Faces: each translates one wire contract onto the domain services, adding no rules."""
