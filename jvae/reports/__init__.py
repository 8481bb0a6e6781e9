"""Reports and figures beside the computation they present."""
