# Script Name: Maths


def clamp(value, low, high):
    return max(low, min(high, float(value)))
