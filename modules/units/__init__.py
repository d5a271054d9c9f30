"""Member units (承办单位): the bureaus, townships and utilities that handle work orders."""
