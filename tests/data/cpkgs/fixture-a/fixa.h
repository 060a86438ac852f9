/* fixture source (our own text) */
int fixa_answer(void);
