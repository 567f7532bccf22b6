package main

// sysSyncfs is the number of the syncfs system call on linux/ppc64le.
const sysSyncfs = 348
