"""beta-VAE, controlled capacity and the disentanglement metrics on dSprites."""
