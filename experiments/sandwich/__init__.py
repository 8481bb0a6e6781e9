"""How tight is K=5000? L_K against AIS and BDMC (Wu et al. 2017; Grosse et al. 2015)."""
