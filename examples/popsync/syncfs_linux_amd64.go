package main

// sysSyncfs is the number of the syncfs system call on linux/amd64.
const sysSyncfs = 306
