"""Reading uploaded files into typed rows, in two passes over a file on disk.

`scan()` reads the whole file once to check it and infer its columns, writing nothing; only
a file that passes is read again (`Plan.batches()`) and loaded. So a bad file is refused
with the line or feature at fault and no dataset is ever half made.
"""
