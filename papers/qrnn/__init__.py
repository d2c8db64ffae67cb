"""Quasi-Recurrent Neural Networks (Bradbury, Merity, Xiong & Socher, ICLR 2017): the PTB language
model and the IMDb classifier, each with the LSTM of equal size it is compared with."""
