print("toolformer-bench: not yet")
