"""`lorabench run` and its companions: the whole pipeline, its dry run, the prompt preview and the retention stage."""
