"""Installing one environment, all or nothing: download, verify, decompress, extract
safely, write the package index and publish by one rename. It imports the layers
below it (settings, net, cache, index).
"""
