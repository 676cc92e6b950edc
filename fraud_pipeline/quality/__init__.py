"""Data quality: the anomaly plan, micro-batch landing files, the baseline profile, ground truth and the anomaly
timeline picture.
"""
