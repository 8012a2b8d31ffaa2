# Script Name: HiveMath
import json


def spread(weights):
    values = [float(w) for w in json.loads(weights)]
    return {"range": max(values) - min(values)}
