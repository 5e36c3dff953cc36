import Framework
