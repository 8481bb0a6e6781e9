"""The VampPrior paper's HVAE table (Tomczak & Welling 2018) with IWAE and DReG rows."""
