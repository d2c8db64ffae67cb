"""Tree-LSTM (Tai, Socher & Manning, ACL 2015): the Constituency (binary N-ary) Tree-LSTM on the
Stanford Sentiment Treebank and the Dependency (Child-Sum) Tree-LSTM on SICK relatedness, against
sequential LSTM and bidirectional LSTM baselines on the same word vectors."""
