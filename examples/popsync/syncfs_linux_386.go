package main

// sysSyncfs is the number of the syncfs system call on linux/386.
const sysSyncfs = 344
