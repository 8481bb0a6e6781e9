"""What every experiment's ``paper`` preset would cost on this machine, from measured speed."""
