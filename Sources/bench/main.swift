import Framework

BLASRuntime.selectKernelBeforeUse()
print("bench: \(BLASRuntime.summary)")
