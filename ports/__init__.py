"""The contracts every layer shares: the neutral message a door hands in, its cleaning, the
settings, the door and transport protocols. Imports nothing of the project above storage."""
