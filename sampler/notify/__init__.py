"""What residents read: SMS lists and building notices."""
