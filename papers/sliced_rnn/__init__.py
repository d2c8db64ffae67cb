"""Sliced Recurrent Neural Networks (Yu & Liu, COLING 2018): SRNN(8, 2) of GRUs over 512-token
documents against the standard GRU of the same width, on IMDb (the paper's Yelp 2013 as bring your
own data)."""
