"""The journalist database: contacts, their import, lists, and the suppression list."""
