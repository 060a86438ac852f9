/* fixture source (our own text) */
#include <stdio.h>
#include <fixa.h>
int main(void) { printf("%d\n", fixa_answer()); return 0; }
