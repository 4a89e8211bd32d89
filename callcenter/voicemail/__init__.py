"""Voicemail: messages recorded by the engine, stored durably, notified through an outbox."""
