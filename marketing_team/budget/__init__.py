"""Money: the policy (levels, worst cases), the Redis ledger, the gate, the meter and the cost report."""
