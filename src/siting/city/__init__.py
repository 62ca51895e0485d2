"""Stage 8, the city: a city split into life circles, solved circle by circle with one budget
shared by pricing it (:mod:`~siting.city.files`, :mod:`~siting.city.circle`, :mod:`~siting.city.batch`).
"""
