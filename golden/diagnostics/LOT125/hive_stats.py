# Script Name: HiveMath
import statistics


def mean(a, b, c):
    return statistics.mean([float(a), float(b), float(c)])
