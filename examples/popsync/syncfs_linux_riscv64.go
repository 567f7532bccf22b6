package main

// sysSyncfs is the number of the syncfs system call on linux/riscv64.
const sysSyncfs = 267
