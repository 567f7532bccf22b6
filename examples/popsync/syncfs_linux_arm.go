package main

// sysSyncfs is the number of the syncfs system call on linux/arm.
const sysSyncfs = 373
