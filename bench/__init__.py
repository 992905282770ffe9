"""``make bench``: what each SCIM operation costs, how that cost scales with tenant size, and cold starts.

Every latency is a ratio to a floor measured in the same run (a minimal Chalice route behind the
same authorizer doing one GetItem, :mod:`bench.floor`), and every operation's DynamoDB work is
counted exactly with botocore event hooks (:mod:`bench.work`): work counts, not moto's wall
time, judge whether an operation stays flat as the tenant grows.
"""
