"""Training loops, datasets of aligned face images and samplers."""
