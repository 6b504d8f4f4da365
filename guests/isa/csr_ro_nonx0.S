/* CSRRS/CSRRC on a read-only CSR with rs1 != x0 holding zero: the
 * instruction still "writes" (unprivileged spec, Zicsr: only rs1 = x0
 * suppresses the write), so it raises an illegal-instruction exception
 * (mcause 2, mtval = the instruction).
 * NOTE: QEMU 7.2 decides by the register's value and does not trap
 * (check 1 fails there); Spike traps. */
#include "isa.h"
TEST_NAME csr_ro_nonx0

  .text
  .globl test_main
test_main:
  li t1, 0
  ILLEGAL 1, csrrs a0, mhartid, t1
  ILLEGAL 2, csrrc a0, mvendorid, t1
  ILLEGAL 3, csrrs zero, marchid, t1
  j pass
