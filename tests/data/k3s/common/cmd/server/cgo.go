package main

// #include <unistd.h>
import "C"

func pid() int { return int(C.getpid()) }
