"""Installing one environment, all or nothing: download, verify, decompress, extract
safely, write the package index and publish by one rename. It imports the layers
below it (settings, net, cache, index).
"""

# The decompressor releases the GIL for every block it works on and must win it back
# each time; at the default 5 ms interval the busy tar thread makes it wait, and
# decompression (the slowest stage) falls behind the network. The CLI sets this (here,
# not in .pipeline: a linked install never imports the pipeline).
FAST_SWITCH_INTERVAL = 0.0005
