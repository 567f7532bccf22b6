package main

// sysSyncfs is the number of the syncfs system call on linux/s390x.
const sysSyncfs = 348
